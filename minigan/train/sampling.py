"""Images from a trained generator: ``generate`` (arrays), and the grids and files of ``minigan sample``.

Every function takes a checkpoint path: a run's ``checkpoint.npz`` or a generator snapshot
``generator_epoch_NNN.npz``. The generator runs in eval mode (BatchNorm with its running
statistics) on the active backend, whichever backend trained it, and the noise is drawn on the
host from ``seed``, so the same call gives the same images on NumPy and CuPy.
"""
import math
import pathlib

import numpy as np

from .. import backend
from ..checks import is_int
from ..errors import ConfigError
from ..gan import models
from . import checkpoint, plots


def load_generator(checkpoint_path):
    """(G in eval mode, z_dim) from a checkpoint or a generator snapshot; CheckpointError if it does not fit.

    A checkpoint of a run with ``ema`` gives the moving average of G's weights, the generator its
    samples, snapshots and scores came from.
    """
    saved = checkpoint.load_checkpoint(checkpoint_path)
    config = checkpoint.config_of(saved)
    G, _ = models.build(config.model, config.z_dim, spectral_norm=config.spectral_norm)
    checkpoint.restore(saved, G, sampler=True)
    return G.eval(), config.z_dim


def _check_positive_int(value, name, owner):
    if not is_int(value, 1):
        raise ConfigError(name, f"must be a positive int, got {value!r}", owner=owner)


def _check_seed(value, owner):
    if not is_int(value, 0):
        raise ConfigError("seed", f"must be an int >= 0, got {value!r}", owner=owner)


def _check_steps(value, name, owner):
    if not is_int(value, 2):
        raise ConfigError(name, f"must be an int >= 2, got {value!r}", owner=owner)


def images_of(G, z, chunk=256):
    """G(z) in eval mode, ``chunk`` noise vectors at a time, as float32 host images (N, 1, 28, 28).

    ``z`` may live on the host or the device; G's train/eval mode is left as it was.
    """
    training = G.training
    G.eval()
    try:
        parts = [backend.to_numpy(G(backend.asarray(z[i:i + chunk], "float32"))) for i in range(0, len(z), chunk)]
    finally:
        G.train(training)
    return np.concatenate(parts).astype(np.float32)


def generate(checkpoint_path, n, seed=0):
    """``n`` images from the checkpoint's generator, (n, 1, 28, 28) float32 in [0, 1], on the host.

    The noise is ``numpy.random.default_rng(seed).standard_normal((n, z_dim))``: the images that
    ``minigan sample --seed`` draws.
    """
    _check_positive_int(n, "n", "generate")
    _check_seed(seed, "generate")
    G, z_dim = load_generator(checkpoint_path)
    return images_of(G, np.random.default_rng(seed).standard_normal((n, z_dim)))


def slerp(z0, z1, t):
    """Spherical interpolation between noise vectors (rows of z0, z1) at fractions t in [0, 1].

    z(t) = sin((1-t)ω)/sin ω · z0 + sin(tω)/sin ω · z1, with ω the angle between z0 and z1; Gaussian
    noise lives near a sphere, and a straight line between two points would cut through its inside.
    Shapes: z0, z1 (d,), t (k,) -> (k, d).
    """
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = math.acos(min(1.0, max(-1.0, float(cos))))
    t = np.asarray(t, dtype=np.float64)[:, None]
    if omega < 1e-6:                                   # (almost) the same direction: a straight line
        return (1.0 - t) * z0 + t * z1
    return (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / math.sin(omega)


def interpolate(checkpoint_path, rows, steps, seed=0):
    """``rows`` walks through latent space, each from one noise vector to another in ``steps`` images.

    Returns (rows * steps, 1, 28, 28) images, row by row (the DCGAN paper's figure).
    """
    _check_positive_int(rows, "rows", "interpolate")
    _check_steps(steps, "steps", "interpolate")
    _check_seed(seed, "interpolate")
    G, z_dim = load_generator(checkpoint_path)
    ends = np.random.default_rng(seed).standard_normal((rows, 2, z_dim))
    z = np.concatenate([slerp(a, b, np.linspace(0.0, 1.0, steps)) for a, b in ends])
    return images_of(G, z)


def sample(checkpoint_path, n=64, seed=0, out="samples.png", nrow=None, interpolate_steps=None, each=None):
    """Draw samples from a checkpoint's generator and write them; returns the paths written.

    ``out``: a grid PNG (its folder is created). ``nrow``: images per row (default: a square).
    ``interpolate_steps``: instead of independent samples, ceil(n / steps) rows that each walk
    between two noise vectors in that many steps. ``each``: also write every image as its own
    28x28 PNG (sample_00000.png, ...) into that folder, for tools that score images one by one.
    """
    _check_positive_int(n, "n", "sample")
    _check_seed(seed, "sample")
    out = pathlib.Path(out)
    if out.suffix.lower() != ".png" or out.is_dir():
        raise ConfigError("out", f"must be a .png file to write, got {str(out)!r}"
                                 + (" (a folder)" if out.is_dir() else ""), owner="sample")
    if nrow is not None:
        _check_positive_int(nrow, "nrow", "sample")
    if interpolate_steps is not None:
        _check_steps(interpolate_steps, "interpolate", "sample")
        images = interpolate(checkpoint_path, -(-n // interpolate_steps), interpolate_steps, seed)
        nrow = interpolate_steps
    else:
        images = generate(checkpoint_path, n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    plots.save_png(plots.image_grid(images, nrow=nrow), out)
    written = [out]
    if each is not None:
        folder = pathlib.Path(each)
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            plots.save_png(plots.image_grid(image[None], pad=0, scale=1), folder / f"sample_{i:05d}.png")
        written.append(folder)
    return written
