"""im2col, col2im and matmul_col2im (minigan/nn/_im2col.py) equal their loop-form definitions
(minigan/nn/reference.py), and col2im is im2col's adjoint.

Confirms docs/derivations.md, "Conv2d" (steps 1 and 3).
"""
import numpy as np
import pytest

from minigan.nn import _im2col, reference
from minigan.nn._im2col import col2im, crop_hw, im2col, matmul_col2im, pad_hw, window_view
from minigan.nn.sizes import conv_output_size, pair

GEOMETRIES = [  # N, H, W, C, kernel, stride, padding
    (2, 5, 5, 3, 3, 1, 1), (1, 7, 6, 1, 4, 2, 1), (3, 5, 4, 2, 2, 3, 2), (2, 4, 4, 2, 1, 1, 0),
    (1, 6, 9, 2, (2, 3), (1, 2), (0, 1)),
]


def _padded_input_and_grid(rng, N, H, W, C, k, s, p):
    kernel, stride, padding = pair(k, "k", "test"), pair(s, "s", "test"), pair(p, "p", "test", minimum=0)
    out_size = tuple(conv_output_size(n, kk, ss, pp) for n, kk, ss, pp in zip((H, W), kernel, stride, padding))
    return pad_hw(rng.standard_normal((N, H, W, C)), padding), kernel, stride, out_size


@pytest.mark.parametrize("N, H, W, C, k, s, p", GEOMETRIES)
def test_im2col_and_col2im_equal_their_definitions(rng, N, H, W, C, k, s, p):
    xpad, kernel, stride, out_size = _padded_input_and_grid(rng, N, H, W, C, k, s, p)
    np.testing.assert_array_equal(im2col(xpad, kernel, stride, out_size),
                                  reference.im2col(xpad, kernel, stride, out_size))
    cols = rng.standard_normal((N, *out_size, *kernel, C))
    np.testing.assert_allclose(col2im(cols, xpad.shape, stride), reference.col2im(cols, xpad.shape, stride),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("N, H, W, C, k, s, p", GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(rng, N, H, W, C, k, s, p):
    xpad, kernel, stride, out_size = _padded_input_and_grid(rng, N, H, W, C, k, s, p)
    c = rng.standard_normal((N * out_size[0] * out_size[1], kernel[0] * kernel[1] * C))
    lhs = float((im2col(xpad, kernel, stride, out_size) * c).sum())
    rhs = float((xpad * col2im(c.reshape(N, *out_size, *kernel, C), xpad.shape, stride)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_window_view_does_not_copy(rng):
    x = rng.standard_normal((1, 4, 4, 1))
    assert np.shares_memory(window_view(x, (2, 2), (1, 1), (3, 3)), x)


def test_pad_and_crop():
    x = np.ones((1, 2, 3, 1))
    assert pad_hw(x, (0, 0)) is x
    y = pad_hw(x, (1, 2))
    assert y.shape == (1, 4, 7, 1) and y.sum() == 6 and y[0, 1:3, 2:5, 0].all()
    np.testing.assert_array_equal(crop_hw(y, (1, 2), (2, 3)), x)


@pytest.mark.parametrize("chunk_images", [None, 1, 2])
@pytest.mark.parametrize("kernel, stride", [((4, 4), (2, 2)), ((3, 2), (1, 3)), ((1, 1), (1, 1))])
def test_matmul_col2im_equals_col2im_of_the_product(rng, monkeypatch, kernel, stride, chunk_images):
    """Whole, and in chunks of 1 and of 2 images (the last chunk then holds one image)."""
    (kh, kw), (sh, sw) = kernel, stride
    N, Hg, Wg, K, C = 3, 3, 4, 5, 3
    shape = (N, sh * (Hg - 1) + kh, sw * (Wg - 1) + kw, C)
    if chunk_images:                                                 # float64: 8 bytes per value
        monkeypatch.setattr(_im2col, "CHUNK_BYTES", chunk_images * 8 * int(np.prod(shape[1:])))
    A = rng.standard_normal((N * Hg * Wg, K))
    W = rng.standard_normal((K, C, kh, kw))
    W_mat = W.transpose(0, 2, 3, 1).reshape(K, kh * kw * C)          # columns ordered (a, b, c)
    expected = reference.col2im((A @ W_mat).reshape(N, Hg, Wg, kh, kw, C), shape, stride)
    np.testing.assert_allclose(matmul_col2im(A, W, (N, Hg, Wg), shape, stride), expected, rtol=1e-12, atol=1e-12)
