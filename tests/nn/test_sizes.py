"""Size checks, (height, width) pairs and the convolutions' output lengths (minigan/nn/sizes.py)."""
import pytest

from minigan.nn.sizes import check_sizes, conv_output_size, conv_transpose_output_size, pair


def test_pair_accepts_ints_and_pairs():
    assert pair(3, "kernel_size", "Conv2d") == (3, 3)
    assert pair((2, 5), "kernel_size", "Conv2d") == (2, 5)
    assert pair([0, 1], "padding", "Conv2d", minimum=0) == (0, 1)


@pytest.mark.parametrize("value, message", [
    (0, r"Conv2d: stride must be a positive int, got 0$"),
    ((1, True), r"Conv2d: stride must be a positive int, got \(1, True\)"),
    ((1, 2, 3), r"Conv2d: stride must be an int or a pair of ints, got \(1, 2, 3\)"),
    (1.5, "Conv2d: stride must be a positive int"),
])
def test_pair_names_the_argument_and_the_layer(value, message):
    with pytest.raises(ValueError, match=message):
        pair(value, "stride", "Conv2d")


def test_check_sizes():
    check_sizes("Dense", in_features=3, out_features=(1, 2))
    with pytest.raises(ValueError, match="Dense: out_features must be a positive int, got 0"):
        check_sizes("Dense", in_features=3, out_features=0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: num_features must be an int >= 2, got True"):
        check_sizes("BatchNorm2d", minimum=2, num_features=True)


@pytest.mark.parametrize("size, kernel, stride, padding", [(28, 4, 2, 1), (7, 3, 1, 1), (5, 2, 3, 2), (9, 4, 2, 0)])
def test_the_output_lengths_invert_each_other(size, kernel, stride, padding):
    out = conv_output_size(size, kernel, stride, padding)
    assert out == (size + 2 * padding - kernel) // stride + 1
    back = conv_transpose_output_size(out, kernel, stride, padding)
    assert back == (out - 1) * stride - 2 * padding + kernel
    assert back == size if (size + 2 * padding - kernel) % stride == 0 else back < size
