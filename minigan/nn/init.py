"""Weight initialisation, drawn on the host from an explicit seed and then moved to the backend.

Schemes (``init=`` on Dense, Conv2d and ConvTranspose2d):

- ``"dcgan"`` (default): W ~ N(0, 0.02²), b = 0. The recipe of Radford et al. (2016)
  for GANs; it keeps early discriminator scores small.
- ``"he"``: W ~ N(0, 2 / fan_in), b = 0. Keeps activation variance through ReLU stacks.
- ``"glorot"``: W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), b = 0.
- ``"torch"``: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for these layers.

fan_in and fan_out follow PyTorch: for a weight of shape (d0, d1, kh, kw) they are
d1*kh*kw and d0*kh*kw; for Dense's W (in, out) they are in and out.
Draws are float64 from a ``numpy.random.Generator`` and cast afterwards, so the
same seed gives the same weights on NumPy and CuPy and in float32 and float64.
"""
import math

from .. import backend

SCHEMES = ("dcgan", "he", "glorot", "torch")


def fans(W_shape):
    """(fan_in, fan_out) of a weight, as PyTorch counts them (module docstring).

    Dense's W (in, out) gives (in, out); a convolution's W (d0, d1, kh, kw) gives (d1*kh*kw, d0*kh*kw).
    """
    if len(W_shape) == 2:
        return W_shape[0], W_shape[1]
    receptive = math.prod(W_shape[2:])
    return W_shape[1] * receptive, W_shape[0] * receptive


def make_weight_and_bias(layer_name, W_shape, n_bias, scheme, rng, dtype=None):
    """(W, b) as backend arrays of ``dtype`` (default ``backend.get_default_dtype()``), b of length n_bias."""
    if scheme not in SCHEMES:
        raise ValueError(f"{layer_name}: init must be one of {SCHEMES}, got {scheme!r}")
    rng = backend.as_rng(rng)
    fan_in, fan_out = fans(W_shape)
    b = None
    if scheme == "dcgan":
        W = 0.02 * rng.standard_normal(W_shape)
    elif scheme == "he":
        W = math.sqrt(2.0 / fan_in) * rng.standard_normal(W_shape)
    elif scheme == "glorot":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-a, a, W_shape)
    else:
        bound = 1.0 / math.sqrt(fan_in)
        W = rng.uniform(-bound, bound, W_shape)
        b = rng.uniform(-bound, bound, n_bias)
    dtype = dtype or backend.get_default_dtype()
    W = backend.asarray(W, dtype=dtype)
    b = backend.xp().zeros(n_bias, dtype=dtype) if b is None else backend.asarray(b, dtype=dtype)
    return W, b
