"""What a run is built from: its networks, data and random generators, and a resumed run's settings.

The trainer (``train.Run``) calls these while it checks everything, before it writes anything.
"""
import dataclasses
import math
import os
import pathlib

import numpy as np

from . import backend, checkpoint, data
from .gan import models
from .config import FIXED_ON_RESUME, TrainConfig
from .errors import ConfigError


def lower_lr(lr, default):
    """A learning rate to suggest after a divergence: a quarter of ``lr``, or the default if that is far lower."""
    return lr / 4 if lr <= 10 * default else default


def build_models(config):
    too_large = ConfigError("z_dim", f"{config.z_dim} makes the {config.model} networks too large for this "
                                     "machine's memory (use a smaller --z-dim)")
    if config.z_dim > 10_000 and init_bytes(config.model, config.z_dim) > physical_memory():
        raise too_large                            # before any allocation: with overcommit, one would not fail
    try:
        return models.build(config.model, config.z_dim, rng=config.seed)
    except MemoryError:
        raise too_large from None


def init_bytes(model, z_dim):
    """Bytes that building ``model`` for ``z_dim`` needs at its peak: float32 weights plus the float64 draws.

    The parameter count is linear in z_dim (only G's first layer reads z), so two tiny builds give it.
    """
    counts = [sum(p.data.size for net in models.build(model, z, rng=0) for p in net.parameters()) for z in (1, 2)]
    return 12 * (counts[0] + (z_dim - 1) * (counts[1] - counts[0]))


def physical_memory():
    """This machine's memory in bytes (infinite where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return math.inf


def clip_value(config, loss):
    """D's weight clipping: the config's, else 0.01 for a loss that needs a Lipschitz critic (WGAN)."""
    return config.clip_value if config.clip_value is not None or not loss.needs_lipschitz else 0.01


def rngs(seed, step=None):
    extra = [] if step is None else [step]
    return np.random.default_rng([seed, 1, *extra]), np.random.default_rng([seed, 2, *extra])


def use_backend(name, log, verbose):
    backend.set_backend(name)
    if backend.tune_allocator() and verbose:
        log("minigan: glibc malloc tuned to keep freed memory (backend.tune_allocator), "
            "which makes steps much faster")


def load_images(config):
    """The training images, checked to fit the models and the batch size."""
    images, _ = data.load_mnist(config.data, scale="unit", limit=config.limit, seed=config.seed)
    if images.shape[1:] != (1, 28, 28):
        raise ConfigError("data", f"holds {images.shape[2]}x{images.shape[3]} images; the {config.model} "
                                  "model makes and judges 28x28 images")
    if config.batch_size > len(images):
        raise ConfigError("batch_size", f"is {config.batch_size}, more than the {len(images)} training images "
                                        "(use a smaller --batch-size)")
    return images


def parent(path):
    return pathlib.Path(path).parent


def resumed_config(old, changes, path):
    """The checkpoint's config with the user's changes; refuses changes to the networks' shapes."""
    for name in FIXED_ON_RESUME:
        if name in changes and changes[name] != getattr(old, name):
            raise ConfigError(name, f"cannot change when resuming: the checkpoint {path} was trained with "
                                    f"{name} {getattr(old, name)!r} (start a new run for {changes[name]!r})")
    settings = dataclasses.asdict(old)
    settings.update(out=str(parent(path)), max_steps=None, backend=backend.get_backend())
    settings.update(changes)
    return TrainConfig(**settings).validate()


def restore_position(run, saved, old):
    """Random generators and the place in the epoch, adjusted for a new seed, batch size or data."""
    meta, config = saved["meta"], run.config
    try:
        run.data_rng.bit_generator.state, run.noise_rng.bit_generator.state = meta["data_rng"], meta["noise_rng"]
    except (KeyError, TypeError, ValueError) as error:
        raise checkpoint.CheckpointError(f"{saved['path']}: malformed random generator state ({error})") from None
    run.perm = saved["arrays"].get("perm")
    if config.seed != old.seed:                    # fresh data order and noise from the new seed
        run.data_rng, run.noise_rng = rngs(config.seed, run.step)
        run.batches.rng = run.data_rng
    if "data" in meta:
        changed = meta["data"] != data.fingerprint(run.images)
    else:                                          # a checkpoint from before fingerprints: compare sizes
        changed = run.perm is not None and len(run.perm) != len(run.images)
        if config.limit is not None:
            run.log("minigan: this checkpoint predates --limit's class-balanced subsets (it took the first "
                    f"{config.limit} images); the run continues on the balanced subset")
    if changed and run.perm is not None:
        run.log(f"minigan: the training data changed; epoch {run.epoch + 1} starts again in a new order")
        run.perm, run.batch = None, 0
    elif config.batch_size != old.batch_size:      # same images seen so far, counted in the new batches
        run.batch = run.batch * old.batch_size // config.batch_size
