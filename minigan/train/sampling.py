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
from ..nn.conditional import num_classes
from . import checkpoint, plots


def load_generator(checkpoint_path):
    """(G in eval mode, z_dim) from a checkpoint or a generator snapshot; CheckpointError if it does not fit.

    A checkpoint of a run with ``ema`` gives the moving average of G's weights, the generator its
    samples, snapshots and scores came from.
    """
    saved = checkpoint.load_checkpoint(checkpoint_path)
    config = checkpoint.config_of(saved)
    G, _ = models.build(config.model, config.z_dim, width=config.width, spectral_norm=config.spectral_norm,
                        num_classes=config.num_classes)
    checkpoint.restore(saved, G, sampler=True)
    return G.eval(), config.z_dim


def _check_digit(digit, classes):
    """``classes``, a generator's number of classes, after checking that it can draw ``digit``."""
    if not classes:
        raise ConfigError("digit", "asks for a digit, but this generator is not conditional (train one with "
                                   "minigan train --conditional)", owner="sample")
    if digit != "all" and not ((is_int(digit) or isinstance(digit, np.integer)) and 0 <= digit < classes):
        raise ConfigError("digit", f"must be 0 to {classes - 1} or all, got {digit!r}", owner="sample")
    return classes


def _check_positive_int(value, name, owner):
    if not is_int(value, 1):
        raise ConfigError(name, f"must be a positive int, got {value!r}", owner=owner)


def _check_seed(value, owner):
    if not is_int(value, 0):
        raise ConfigError("seed", f"must be an int >= 0, got {value!r}", owner=owner)


def _check_steps(value, name, owner):
    if not is_int(value, 2):
        raise ConfigError(name, f"must be an int >= 2, got {value!r}", owner=owner)


def images_of(G, z, chunk=256, labels=None):
    """G(z) in eval mode, ``chunk`` noise vectors at a time, as float32 host images (N, 1, 28, 28).

    ``z`` may live on the host or the device; G's train/eval mode is left as it was. ``labels``
    (N,) ints: the digits a conditional G is asked for, one per noise vector.
    """
    training = G.training
    G.eval()
    try:
        parts = [backend.to_numpy(G.given(None if labels is None else backend.asarray(labels[i:i + chunk], "int64"))(
            backend.asarray(z[i:i + chunk], "float32"))) for i in range(0, len(z), chunk)]
    finally:
        G.train(training)
    return np.concatenate(parts).astype(np.float32)


def balanced_labels(n, num_classes, rng=None):
    """``n`` labels with every class as equally often as n allows, in an order shuffled by ``rng``
    (a numpy Generator; None keeps them sorted by class, 0 0 0 1 1 1 ...). Host int64 (n,)."""
    labels = np.sort(np.arange(n) % num_classes)
    return labels if rng is None else rng.permutation(labels)


def rows_per_class(n, num_classes):
    """The labels of a grid with one row per class and ceil(n / num_classes) images in each, and that row length."""
    per_row = -(-n // num_classes)
    return np.repeat(np.arange(num_classes), per_row), per_row


def generate(checkpoint_path, n, seed=0, labels=None):
    """``n`` images from the checkpoint's generator, (n, 1, 28, 28) float32 in [0, 1], on the host.

    The noise is ``numpy.random.default_rng(seed).standard_normal((n, z_dim))``: the images that
    ``minigan sample --seed`` draws. ``labels``, for a conditional generator (``minigan train
    --conditional``): the digit to draw, an int for all n or an array of n ints; None draws every
    digit equally often, in order (``balanced_labels``). ConfigError naming ``labels`` when the
    generator is not conditional, a label is out of range or the array's length is not n.
    """
    _check_positive_int(n, "n", "generate")
    _check_seed(seed, "generate")
    G, z_dim = load_generator(checkpoint_path)
    return _draw(G, z_dim, n, seed, labels, "generate")[0]


def generate_labelled(checkpoint_path, n, seed=0):
    """(images, labels): ``generate``'s images with its default labels, and those labels (None for an
    unconditional generator): what ``minigan eval`` scores, every digit asked for equally often."""
    _check_positive_int(n, "n", "generate")
    _check_seed(seed, "generate")
    G, z_dim = load_generator(checkpoint_path)
    return _draw(G, z_dim, n, seed, None, "generate")


def _draw(G, z_dim, n, seed, labels, owner):
    """(images, the labels asked for or None): ``generate``'s work on a loaded generator."""
    asked = labels_for(G, n, labels, owner)
    return images_of(G, np.random.default_rng(seed).standard_normal((n, z_dim)), labels=asked), asked


def labels_for(G, n, labels, owner):
    """The n labels (host int64) that ``labels`` asks a generator G for, or None for an unconditional G."""
    classes = num_classes(G)
    if labels is None:
        return balanced_labels(n, classes) if classes else None
    if not classes:
        raise ConfigError("labels", "were given, but this generator is not conditional (it was trained without "
                                    "--conditional; train one with minigan train --conditional)", owner=owner)
    values = np.asarray(labels) if isinstance(labels, (np.ndarray, np.integer, list, tuple)) else None
    if is_int(labels) or (values is not None and values.ndim == 0 and values.dtype.kind in ("i", "u")):
        value = int(labels)
        if not 0 <= value < classes:
            raise ConfigError("labels", f"must lie in 0..{classes - 1} (the classes this generator knows), "
                                        f"got {value}", owner=owner)
        return np.full(n, value, dtype=np.int64)
    if values is None or values.dtype.kind not in ("i", "u") or values.ndim != 1:
        what = (f"a {values.ndim}-D array of {values.dtype}" if values is not None
                else f"{type(labels).__name__} {labels!r}"[:80])
        raise ConfigError("labels", f"must be an int or a 1-D array of ints, got {what}", owner=owner)
    if len(values) != n:
        raise ConfigError("labels", f"must be one per image, {n}, got {len(values)}", owner=owner)
    outside = values[(values < 0) | (values >= classes)]
    if len(outside):
        raise ConfigError("labels", f"must lie in 0..{classes - 1} (the classes this generator knows), "
                                    f"got {outside[0]}", owner=owner)
    return values.astype(np.int64)


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


def interpolate(checkpoint_path, rows, steps, seed=0, labels=None):
    """``rows`` walks through latent space, each from one noise vector to another in ``steps`` images.

    Returns (rows * steps, 1, 28, 28) images, row by row (the DCGAN paper's figure). ``labels``, for
    a conditional generator: the digit of each row, an int for all or an array of ``rows`` ints
    (None: balanced, as ``generate``).
    """
    _check_positive_int(rows, "rows", "interpolate")
    _check_steps(steps, "steps", "interpolate")
    _check_seed(seed, "interpolate")
    G, z_dim = load_generator(checkpoint_path)
    return _walks(G, z_dim, rows, steps, seed, labels, "interpolate")


def _walks(G, z_dim, rows, steps, seed, labels, owner):
    """``interpolate``'s work on a loaded generator."""
    row_labels = labels_for(G, rows, labels, owner)
    ends = np.random.default_rng(seed).standard_normal((rows, 2, z_dim))
    z = np.concatenate([slerp(a, b, np.linspace(0.0, 1.0, steps)) for a, b in ends])
    return images_of(G, z, labels=None if row_labels is None else np.repeat(row_labels, steps))


def sample(checkpoint_path, n=64, seed=0, out="samples.png", nrow=None, interpolate_steps=None, each=None,
           digit=None):
    """Draw samples from a checkpoint's generator and write them; returns the paths written.

    ``out``: a grid PNG (its folder is created; None: no grid, only ``each``). ``nrow``: images per row
    (default: a square).
    ``interpolate_steps``: instead of independent samples, ceil(n / steps) rows that each walk
    between two noise vectors in that many steps. ``each``: also write every image as its own
    28x28 PNG (sample_00000.png, ...) into that folder, for tools that score images one by one.
    ``digit``, for a conditional generator: the digit to draw (an int), or "all" for one row per
    digit (ceil(n / 10) images each; with ``interpolate_steps``, one walk per digit).
    """
    _check_positive_int(n, "n", "sample")
    _check_seed(seed, "sample")
    if out is None and each is None:
        raise ConfigError("out", "is None, and no each folder is given: nothing would be written", owner="sample")
    out = None if out is None else pathlib.Path(out)
    if out is not None and (out.suffix.lower() != ".png" or out.is_dir()):
        raise ConfigError("out", f"must be a .png file to write, got {str(out)!r}"
                                 + (" (a folder)" if out.is_dir() else ""), owner="sample")
    if nrow is not None:
        _check_positive_int(nrow, "nrow", "sample")
    if interpolate_steps is not None:
        _check_steps(interpolate_steps, "interpolate", "sample")
    G, z_dim = load_generator(checkpoint_path)                    # once, for the digit's check and the images
    classes = None if digit is None else _check_digit(digit, num_classes(G))
    if interpolate_steps is not None:
        rows = classes if digit == "all" else -(-n // interpolate_steps)
        images = _walks(G, z_dim, rows, interpolate_steps, seed,
                        np.arange(classes) if digit == "all" else digit, "sample")
        nrow = interpolate_steps
    elif digit == "all":
        labels, per_row = rows_per_class(n, classes)
        images = _draw(G, z_dim, len(labels), seed, labels, "sample")[0]
        nrow = nrow or per_row
    else:
        images = _draw(G, z_dim, n, seed, digit, "sample")[0]
    written = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        plots.save_png(plots.image_grid(images, nrow=nrow), out)
        written.append(out)
    if each is not None:
        folder = pathlib.Path(each)
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            plots.save_png(plots.image_grid(image[None], pad=0, scale=1), folder / f"sample_{i:05d}.png")
        written.append(folder)
    return written
