"""What a run is built from, new or resumed: its backend, data, networks, weight clipping, gradient
penalties and random generators.

``start.py`` and ``run.Run`` call these while they check everything, before anything is written.
"""

import numpy as np

from .. import backend, data
from ..backend import cpu
from ..data.memory import physical_memory
from ..errors import ConfigError
from ..gan import models, penalties


def lower_lr(lr, default):
    """A learning rate to suggest after a divergence: a quarter of ``lr``, or the default if that is far lower."""
    return lr / 4 if lr <= 10 * default else default


def build_models(config):
    too_large = ConfigError("z_dim", f"{config.z_dim} makes the {config.model} networks too large for this "
                                     "machine's memory (use a smaller --z-dim)")
    if config.z_dim > 10_000 and init_bytes(config.model, config.z_dim) > physical_memory():
        raise too_large                            # before any allocation: with overcommit, one would not fail
    try:
        return models.build(config.model, config.z_dim, rng=config.seed, width=config.width, d_norm=not config.penalised,
                            spectral_norm=config.spectral_norm, num_classes=config.num_classes)
    except MemoryError:
        raise too_large from None


def init_bytes(model, z_dim):
    """Bytes that building ``model`` for ``z_dim`` needs at its peak: float32 weights plus the float64 draws.

    The parameter count is linear in z_dim (only G's first layer reads z), so two tiny builds give it.
    """
    counts = [sum(p.data.size for net in models.build(model, z, rng=0) for p in net.parameters()) for z in (1, 2)]
    return 12 * (counts[0] + (z_dim - 1) * (counts[1] - counts[0]))


def clip_value(config, loss):
    """D's weight clipping: the config's, else 0.01 for a loss that needs a Lipschitz critic (WGAN) and has
    no gradient penalty on interpolates to make it one (wgan-gp)."""
    if config.clip_value is not None or not loss.needs_lipschitz or config.gp:
        return config.clip_value
    return 0.01


def penalty_terms(config):
    """The gradient penalties of D's loss, each weight times ``reg_every`` (applied every reg_every-th step)."""
    terms = [penalties.wgan_gp(config.gp)] if config.gp else []
    terms += [penalties.r1(config.r1)] if config.r1 else []
    terms += [penalties.r2(config.r2)] if config.r2 else []
    return tuple(term.scaled(config.reg_every) for term in terms)


def captures_steps(config, log):
    """Whether the run replays its step from a CUDA graph: on CuPy, unless --eager, --layer-norms or a
    gradient penalty asks for the step op by op (the penalty's interpolates are drawn on the host each
    step, which a recorded graph cannot do; said once in the log)."""
    if backend.get_backend() != "cupy" or config.eager or config.layer_norms:
        return False
    if config.penalised or config.spectral_norm or config.augment_ops or config.conditional:
        log("minigan: this step runs op by op on the GPU (the CUDA graph records neither what is drawn on the "
            "host each step, a penalty's interpolates, the augmentation's draws or the fakes' labels, nor "
            "spectral norm's power iteration, which rebinds u and v)")
        return False
    return True


def rngs(seed, step=None):
    extra = [] if step is None else [step]
    return np.random.default_rng([seed, 1, *extra]), np.random.default_rng([seed, 2, *extra])


def use_backend(name, log, verbose):
    backend.set_backend(name)
    if backend.tune_allocator() and verbose:
        log("minigan: glibc malloc tuned to keep freed memory (backend.tune_allocator), "
            "which makes steps much faster")
    if name == "numpy" and not cpu.enabled():                     # said whether verbose or not
        log(f"minigan: {cpu.status()}")


def load_data(config):
    """(images, labels) to train on, checked to fit the models and the batch size; labels None unless the
    run is conditional, whose labels must lie in [0, num_classes)."""
    images, labels = data.load_mnist(config.data, scale="unit", limit=config.limit, seed=config.seed)
    if images.shape[1:] != (1, 28, 28):
        raise ConfigError("data", f"holds {images.shape[2]}x{images.shape[3]} images; the {config.model} "
                                  "model makes and judges 28x28 images")
    if config.batch_size > len(images):
        raise ConfigError("batch_size", f"is {config.batch_size}, more than the {len(images)} training images "
                                        "(use a smaller --batch-size)")
    steps = len(images) // config.batch_size
    if config.d_steps > steps:
        raise ConfigError("d_steps", f"is {config.d_steps}, more than the {steps} steps of an epoch: G would not "
                                     f"train in most epochs (use at most {steps})")
    if not config.conditional:
        return images, None
    outside = labels[(labels < 0) | (labels >= config.num_classes)]
    if len(outside):
        raise ConfigError("conditional", f"needs labels 0 to {config.num_classes - 1}, but the data's label file "
                                         f"holds {int(outside[0])} (train without --conditional)")
    absent = sorted(set(range(config.num_classes)) - set(labels.tolist()))
    if absent:
        raise ConfigError("conditional", f"needs images of every class, but the data hold none of "
                                         f"{', '.join(map(str, absent))}: G would be asked for what D never saw "
                                         "(use more images, or train without --conditional)")
    return images, labels
