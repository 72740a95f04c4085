"""Sizes: the checks on a layer's size arguments, (height, width) pairs, and the convolutions' output lengths.

Every layer checks its sizes here (with ``minigan.checks.is_int``: a bool is not a size), and
the output-length formulas shared by the convolutions, their tests and the loop-form
references (``minigan.nn.reference``) are written here once.
"""
from ..checks import is_int


def check_sizes(owner, minimum=1, **sizes):
    """Raise ValueError naming ``owner`` and the argument unless each size (an int or a pair) is >= minimum."""
    for name, value in sizes.items():
        values = value if isinstance(value, tuple) else (value,)
        if not all(is_int(v, minimum) for v in values):
            kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
            raise ValueError(f"{owner}: {name} must be {kind}, got {value!r}")


def pair(value, name, owner, minimum=1):
    """``value`` as a checked (height, width) pair: an int n is (n, n), a pair stays itself.

    Raises ValueError naming ``owner`` and ``name`` unless both entries are ints >= ``minimum``.
    """
    given_pair = isinstance(value, (tuple, list))
    pair_ = tuple(value) if given_pair else (value, value)
    if len(pair_) != 2:
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    check_sizes(owner, minimum, **{name: pair_ if given_pair else value})      # quotes what was given
    return pair_


def conv_output_size(size, kernel, stride, padding):
    """Conv2d's output length along one axis: (size + 2*padding - kernel) // stride + 1.

    The windows start at 0, stride, 2*stride, ... and must fit inside the padded input.
    """
    return (size + 2 * padding - kernel) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding):
    """ConvTranspose2d's output length along one axis: (size - 1)*stride - 2*padding + kernel.

    The last input pixel's stamp starts at (size - 1)*stride and is kernel long; the padding is
    cropped from both ends. It inverts ``conv_output_size`` when (size + 2*padding - kernel) is
    a multiple of the stride.
    """
    return (size - 1) * stride - 2 * padding + kernel
