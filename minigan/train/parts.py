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
from .config import MODEL_DEFAULTS


def lower_lr(lr, default):
    """A learning rate to suggest after a divergence: a quarter of ``lr``, or the default if that is far lower."""
    return lr / 4 if lr <= 10 * default else default


def build_models(config):
    own = MODEL_DEFAULTS[config.model]["width"]
    width = own if config.width is None else config.width
    field = "width" if width > own and config.z_dim <= 10_000 else "z_dim"
    too_large = ConfigError(field, f"{getattr(config, field)} makes the {config.model} networks too large "
                                   f"for this machine's memory (z_dim {config.z_dim}, width {width}; use a smaller "
                                   "--z-dim or --width)")
    if (config.z_dim > 10_000 or width > own) and init_bytes(config.model, config.z_dim, width) > physical_memory():
        raise too_large                            # before any allocation: with overcommit, one would not fail
    try:
        return models.build(config.model, config.z_dim, rng=config.seed, width=config.width, d_norm=not config.penalised,
                            spectral_norm=config.spectral_norm, num_classes=config.num_classes)
    except MemoryError:
        raise too_large from None


def init_bytes(model, z_dim, width=None):
    """Bytes that building ``model`` for ``z_dim`` (and ``width``, None: the model's own) needs at its peak:
    float32 weights plus the float64 draws.

    The parameter count is linear in z_dim (only G's first layer reads z) and quadratic in the width
    (each layer's weight is its inputs times its outputs, both proportional to it), so tiny builds give it:
    two z_dims at widths 1, 2 and 3 fit the count's coefficients.
    """
    width = MODEL_DEFAULTS[model]["width"] if width is None else width
    def count(z, w):
        return sum(p.data.size for net in models.build(model, z, rng=0, width=w) for p in net.parameters())
    at = {(z, w): count(z, w) for z in (1, 2) for w in (1, 2, 3)}
    def quadratic(values):                         # the value at ``width`` of the parabola through w = 1, 2, 3
        a, b, c = values
        return a + (width - 1) * (b - a) + (width - 1) * (width - 2) // 2 * (c - 2 * b + a)
    base = quadratic([at[1, w] for w in (1, 2, 3)])
    per_z = quadratic([at[2, w] - at[1, w] for w in (1, 2, 3)])
    return 12 * (base + (z_dim - 1) * per_z)


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
