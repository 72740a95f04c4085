"""Two GANs for 28x28 grey images, as plain Sequentials a user can read and edit.

Each builder returns ``(G, D)``: G maps noise z (N, z_dim) to images (N, 1, 28, 28) in [0, 1]
(a sigmoid output, matching ``load_mnist(scale="unit")``), D maps images to one raw score per
sample, (N, 1): a logit for the sigmoid losses, used as is by lsgan, hinge and wasserstein.

With ``num_classes`` > 0 both networks are conditional (``minigan.nn.conditional``): G's first layer
joins each noise vector with its label's learnt vector (``ConcatEmbedding``, Mirza and Osindero's
design), and D's last layer is the projection head (``Projection``, Miyato and Koyama's):
D(x, y) = ψ(φ(x)) + ⟨E[y], φ(x)⟩, φ everything below it. They are called ``net.given(labels)(x)``.
"""
from ..backend import as_rng
from ..nn import (BatchNorm1d, BatchNorm2d, ConcatEmbedding, Conv2d, ConvTranspose2d, Dense, Flatten, LeakyReLU,
                 Projection, Reshape, Sequential, Sigmoid, SpectralNorm)
from ..nn.sizes import check_sizes

MODELS = ("dcgan", "mlp")
LABEL_DIM = 10          # the length of G's learnt label vector, that of a one-hot code for ten digits


def _label_input(z_dim, num_classes, rng):
    """G's first layers for the noise: none, or the join of z with its label's vector; and their output width."""
    if not num_classes:
        return [], z_dim
    return [ConcatEmbedding(z_dim, num_classes, LABEL_DIM, rng=rng)], z_dim + LABEL_DIM


def _score(features, num_classes, init, rng):
    """D's last layer: one score from the features, projected onto the label's vector when conditional."""
    if not num_classes:
        return Dense(features, 1, init=init, rng=rng)
    return Projection(features, num_classes, init=init, rng=rng)


def mlp_gan(z_dim=100, rng=None, init="torch", width=128, num_classes=0):
    """A fully connected GAN: G z_dim -> 128 -> 256 -> 784 -> (1, 28, 28), D 784 -> 256 -> 128 -> 1.

    LeakyReLU(0.2) between the layers, a sigmoid on G's output, no sigmoid on D's score.
    ``rng`` (seed or Generator) draws every initial weight; ``init`` is the scheme (see ``nn.init``).
    The default is PyTorch's fan-in uniform scheme: with DCGAN's N(0, 0.02²) and no BatchNorm,
    three Dense layers shrink the noise so much that G's output barely depends on z and the
    generator collapses to a single blob. ``width`` (128) sets the hidden sizes, width and
    2*width; the gradient-check table uses a narrow copy. ``num_classes`` > 0: conditional (module docstring).
    """
    check_sizes("mlp_gan", width=width)
    check_sizes("mlp_gan", minimum=0, num_classes=num_classes)
    rng = as_rng(rng)
    join, z_in = _label_input(z_dim, num_classes, rng)
    G = Sequential(
        *join, Dense(z_in, width, init=init, rng=rng), LeakyReLU(0.2),
        Dense(width, 2 * width, init=init, rng=rng), LeakyReLU(0.2),
        Dense(2 * width, 784, init=init, rng=rng), Sigmoid(), Reshape(1, 28, 28),
    )
    D = Sequential(
        Flatten(),
        Dense(784, 2 * width, init=init, rng=rng), LeakyReLU(0.2),
        Dense(2 * width, width, init=init, rng=rng), LeakyReLU(0.2),
        _score(width, num_classes, init, rng),
    )
    return G, D


def dcgan(z_dim=100, rng=None, init="dcgan", width=64, d_norm=True, num_classes=0):
    """A small DCGAN (Radford et al., 2016) for 28x28 images.

    G: Dense(z_dim, 128*7*7) -> BatchNorm1d -> LeakyReLU -> Reshape(128, 7, 7)
       -> ConvTranspose2d(128, 64, 4, 2, 1) -> BatchNorm2d -> LeakyReLU      (64 x 14 x 14)
       -> ConvTranspose2d(64, 1, 4, 2, 1) -> Sigmoid                          (1 x 28 x 28)
    D: Conv2d(1, 64, 4, 2, 1) -> LeakyReLU                                    (64 x 14 x 14)
       -> Conv2d(64, 128, 4, 2, 1) -> BatchNorm2d -> LeakyReLU                (128 x 7 x 7)
       -> Flatten -> Dense(128*7*7, 1)
    Weights N(0, 0.02²) by default, the DCGAN recipe. ``width`` (64) sets the channel counts,
    width and 2*width (64 and 128 above); the gradient-check table uses a narrow copy.
    ``d_norm=False`` leaves BatchNorm out of D: the critic of a gradient penalty (``gan.penalties``),
    whose per-sample input gradients BatchNorm would mix across the batch.
    ``num_classes`` > 0: conditional (module docstring).
    """
    check_sizes("dcgan", width=width)
    check_sizes("dcgan", minimum=0, num_classes=num_classes)
    c1, c2 = width, 2 * width
    rng = as_rng(rng)
    join, z_in = _label_input(z_dim, num_classes, rng)
    G = Sequential(
        *join, Dense(z_in, c2 * 7 * 7, init=init, rng=rng), BatchNorm1d(c2 * 7 * 7), LeakyReLU(0.2),
        Reshape(c2, 7, 7),
        ConvTranspose2d(c2, c1, 4, 2, 1, init=init, rng=rng), BatchNorm2d(c1), LeakyReLU(0.2),
        ConvTranspose2d(c1, 1, 4, 2, 1, init=init, rng=rng), Sigmoid(),
    )
    D = Sequential(
        Conv2d(1, c1, 4, 2, 1, init=init, rng=rng), LeakyReLU(0.2),
        Conv2d(c1, c2, 4, 2, 1, init=init, rng=rng), *([BatchNorm2d(c2)] if d_norm else []), LeakyReLU(0.2),
        Flatten(), _score(c2 * 7 * 7, num_classes, init, rng),
    )
    return G, D


def normalises_over_batch(name):
    """Whether model ``name`` has BatchNorm layers, which need at least two images per training batch."""
    return any(isinstance(layer, (BatchNorm1d, BatchNorm2d))
               for net in build(name, z_dim=1, rng=0, width=1) for _, layer in net.named_layers())


def build(name, z_dim=100, rng=None, width=None, d_norm=True, spectral_norm="", num_classes=0):
    """``(G, D)`` for a model name in ``MODELS``: "dcgan" or "mlp"; ``width`` None keeps the model's own.

    ``d_norm=False``: D without BatchNorm (the mlp's D has none either way), for a gradient penalty.
    ``spectral_norm``: the networks ("D", "G" or "GD") whose Dense and convolution layers run
    spectrally normalised (``nn.SpectralNorm``); their u and v are drawn after every weight, so
    the weights are those of the plain model (the projection head stays as it is).
    ``num_classes`` > 0: a conditional pair, G and D given labels in [0, num_classes) (module docstring).
    """
    size = {} if width is None else {"width": width}
    if name not in MODELS:
        raise ValueError(f"models.build: name must be one of {MODELS}, got {name!r}")
    if not (isinstance(spectral_norm, str) and set(spectral_norm) <= {"G", "D"}):
        raise ValueError(f"models.build: spectral_norm must name the networks, e.g. 'D' or 'GD', got {spectral_norm!r}")
    rng = as_rng(rng)
    if name == "dcgan":
        G, D = dcgan(z_dim, rng, d_norm=d_norm, num_classes=num_classes, **size)
    else:
        G, D = mlp_gan(z_dim, rng, num_classes=num_classes, **size)
    G, D = (with_spectral_norm(net, rng) if tag in spectral_norm else net for tag, net in (("G", G), ("D", D)))
    return G, D


def with_spectral_norm(network, rng=None):
    """``network`` with each Dense, Conv2d and ConvTranspose2d wrapped in ``nn.SpectralNorm`` (same weights)."""
    rng = as_rng(rng)
    return Sequential(*(SpectralNorm(layer, rng=rng) if isinstance(layer, (Dense, Conv2d, ConvTranspose2d))
                        else layer for layer in network))
